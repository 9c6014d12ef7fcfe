// MurmurGossipTests
