// MurmurWireTests
