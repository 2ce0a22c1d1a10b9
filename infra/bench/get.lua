-- wrk: GET /v1/approvals/{id} as the agent, id in APPROVAL_ID.
wrk.path = "/v1/approvals/" .. os.getenv("APPROVAL_ID")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AGENT_KEY")
