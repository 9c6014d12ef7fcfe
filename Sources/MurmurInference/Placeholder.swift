// MurmurInference: see DESIGN.md
