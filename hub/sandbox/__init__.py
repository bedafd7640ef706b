"""The embedded default world: a simulated B2B market behind fake HubSpot and Salesforce APIs.

No accounts, no external services. ``World`` holds the market and both CRMs' state;
``start_sandbox`` serves them over HTTP(S) for the unmodified vendor SDKs.
"""
