// MurmurNode: see DESIGN.md
