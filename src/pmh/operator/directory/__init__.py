"""Public lists of participating municipalities and connected institutions."""
