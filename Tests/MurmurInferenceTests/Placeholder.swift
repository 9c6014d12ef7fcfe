// MurmurInferenceTests
