"""Linux guests: their serial-console sources, the rules, and text-preserving fixes."""
