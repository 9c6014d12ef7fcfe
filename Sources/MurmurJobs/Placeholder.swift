// MurmurJobs: see DESIGN.md
