// MurmurSimTests
