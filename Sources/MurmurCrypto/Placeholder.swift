// MurmurCrypto: see DESIGN.md
