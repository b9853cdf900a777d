"""Technology behind the ports: brokers, state stores, the symbol master."""
