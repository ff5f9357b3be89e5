"""Operating and introduction fees (運営負担金・新規導入費用), docs/operator.md."""
