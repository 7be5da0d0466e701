"""Training and evaluation of the text classifier (data loading, metrics, fine-tuning).

Imported only by the `moderation model` CLI and the scripts; the request path needs
`moderation.classifier` alone.
"""
