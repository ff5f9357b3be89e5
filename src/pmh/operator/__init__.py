"""The operator's work around the hub (運営主体): fees, contracts, participation statistics and map,
the institution modification subsidy, and the public directory."""
