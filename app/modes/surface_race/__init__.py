"""Surface race: optimizers race from one point on a 2-D loss surface."""
