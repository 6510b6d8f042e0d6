"""The job queue of a multi-process deployment (``database.url`` on Postgres): procrastinate.

procrastinate keeps its queue in the Postgres database the service already
needs (no extra service to run, back up and secure), takes jobs with
``SELECT ... FOR UPDATE SKIP LOCKED``, wakes workers with LISTEN/NOTIFY, and
tracks live workers by heartbeat, which is what re-delivering the item of a
worker killed with kill -9 needs. Celery and Dramatiq would add a Redis or
RabbitMQ broker that must be as durable as the database holding the jobs;
with the jobs' state in Postgres already, one transactional store is simpler.
"""
