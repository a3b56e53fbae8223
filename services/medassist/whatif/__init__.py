"""`medassist whatif`: a year of events replayed under the policies in force and under changed ones.

change.py reads the changes and builds both policy books; partition.py replays one share of the
people under both; aggregate.py holds and merges what the shares return; run.py spreads the shares
over processes; tables.py and report.py write the results; shadow.py runs a variant as a shadow
consumer group of the cluster.
"""
