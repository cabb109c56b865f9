"""The GPU side: keeps the answer engine resident and runs question jobs from Redis."""
