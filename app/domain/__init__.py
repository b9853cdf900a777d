"""Pure trading logic: no Flask, no SDK, no environment reads; the clock is passed in."""
