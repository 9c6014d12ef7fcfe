// MurmurWire: see DESIGN.md
