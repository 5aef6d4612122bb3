"""What is run: network layers, the convolutions of torch models, seeded test data, training passes, accuracy."""
