"""The lesson browser: every lesson as a card (thumbnail, title, topic, what it shows), filtered by topic, with the teacher's notes beside."""
