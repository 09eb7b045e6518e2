"""Platform adapters: pure payload -> Inbound functions, and senders of replies. No stores here."""
