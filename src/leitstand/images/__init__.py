"""Container images: reproducible OCI image layouts and their signed in-toto/DSSE attestations."""
