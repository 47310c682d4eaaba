"""A class on one server: its session, the learners' display names, a challenge, the board and its leaderboard.

- `class_ledger.py`: the class's state (`class.json` in the runs directory): the session opened and
  closed by the teacher, the runs its visitors started in it, their display names, what the teacher
  hid, and the challenge; the teacher's changes refuse anyone else;
- `display_names.py`: the rules of a display name (plain text, length-capped, unique in the class);
- `challenge.py`: a goal and its constraint, whether a config fits it before Start, whether a run counts;
- `leaderboard.py`: the class's runs ranked under the challenge, ties broken by the time they finished;
- `class_runs.py`: each training of the session as the board shows it (from its run folder, or the queue);
- `board_html.py`: the board's cards as one block of HTML, with inline SVG sparklines;
- `class_view.py`: the board every open page shows, made once for all of them (not once per page and refresh);
- `results_csv.py`: the session's results as CSV for the teacher.

May import: core.config, core.models, core.training, core.runs, core.jobs.
"""
