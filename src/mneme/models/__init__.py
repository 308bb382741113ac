"""Task-facing models: a core (cells, attention, memory) composed with a head.

``qa``: the LSTM question-answering baseline (story then question as one sequence). The registry
(``mneme.registry``) names every model with its config class and factory.
"""

from mneme.models.qa import LSTMQA, LSTMQAConfig, LSTMQATrace, build_lstm_qa, flatten_story_query

__all__ = ["LSTMQA", "LSTMQAConfig", "LSTMQATrace", "build_lstm_qa", "flatten_story_query"]
