"""BERT with a head: cross-encoder reranking, sequence classification, masked-LM fill-in.

``CrossEncoder`` (sentence-transformers' predict / rank), ``Classifier`` (the text-classification
pipeline's labels) and ``MaskedLM`` (the fill-mask pipeline) load a Hugging Face checkpoint as
``minilm.load`` finds one and run the head's graph (minilm/models/heads.py) on any backend.
"""

from .classifier import Classifier
from .cross_encoder import CrossEncoder
from .fill_mask import MaskedLM

__all__ = ["Classifier", "CrossEncoder", "MaskedLM"]
