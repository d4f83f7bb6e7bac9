"""Stub for the corpus' TF.js route (requirements-tfjs.txt): tensorflowjs imports tensorflow_decision_forests only
so that SavedModels using TF-DF ops load; the corpus has none, and TF-DF 1.12 is built for an older TensorFlow."""
