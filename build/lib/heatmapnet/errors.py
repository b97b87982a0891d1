"""One exception type for mistakes a user can fix (bad path, bad config, wrong file).

Entry points catch it and print its message as a single line instead of a traceback.
"""


class UserError(Exception):
    """A problem with the user's input; the message says what was wrong and what to do."""
