"""Stand-ins for the national services pmh talks to: the insurance-record (eligibility) service and the card service."""
