"""The institution modification subsidy (医療機関・薬局向け補助金), docs/operator.md."""
