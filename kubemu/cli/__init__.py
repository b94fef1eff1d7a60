"""The kubemu command line: kubectl verbs against a kubemu apiserver, and the local cluster launcher."""
