

node-1pathgrid/0.1.0"t