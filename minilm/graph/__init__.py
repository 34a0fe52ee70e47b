"""The graph IR (WebNN operations) and its builder."""

from .builder import GraphBuilder
from .ir import DTYPES, Graph, Node, Operand

__all__ = ["DTYPES", "Graph", "GraphBuilder", "Node", "Operand"]
