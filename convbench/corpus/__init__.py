"""The field's layer corpus: every nn.Conv2d of timm's and torchvision's classification models,
and the sweep over it.

extract  - one model's convolutions, on torch's meta device (shapes only: nothing is computed)
build    - every model of the zoo through extract, resumable; writes the committed data files
table    - the committed corpus: its layers, where each occurs, its tiers, its hash
sweep    - each variant timed (and with check, verified) on every layer of a tier, into the store
cluster  - the sweep's layers as Ray tasks, one measurement per node at a time (`--ray`)
answers  - what the store says: where each variant wins, by how much, and per model
"""
