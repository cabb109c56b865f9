"""Document gathering: the candidate set a question is answered from, and how it is chunked."""
