// MurmurTraceTests
