// MurmurNodeTests
