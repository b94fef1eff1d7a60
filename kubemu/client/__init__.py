"""The typed gRPC client SDK shared by every kubemu process and by users."""
