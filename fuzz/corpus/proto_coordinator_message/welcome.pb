

pathgrid/0.1.0è