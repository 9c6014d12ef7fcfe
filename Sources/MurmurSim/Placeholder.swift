// MurmurSim: see DESIGN.md
