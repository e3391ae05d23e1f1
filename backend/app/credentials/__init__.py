"""Password hashing, the password policy and access tokens: the credential primitives."""
