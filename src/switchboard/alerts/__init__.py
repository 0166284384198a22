"""Alerts: rules stored in the database, evaluated on one replica at a time (and budget
thresholds also as soon as a request's cost crosses them), raised once across replicas, and
delivered to webhooks through an outbox.

- `findings`: what each kind of rule finds in the data it is given (pure);
- `evaluation`: a round over every active rule, reading through `services`;
- `budget_watch`: the gateway's settled costs checked against budget rules at once;
- `signing` and `delivery`: webhook bodies, their signature, and the outbox's sender;
- `runner`: the background loops (evaluation under the job lease, delivery) of one process.
"""
