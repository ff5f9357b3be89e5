"""The patient's own view (本人向けページ): sign-in with the card, my certificates, who read my data, my cap."""
