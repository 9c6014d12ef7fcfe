// MurmurCryptoTests
