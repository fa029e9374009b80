"""Golden models: float32 (Caffe rules) and the integer model that defines the numbers the
hardware computes (``docs/numerics.md``)."""
