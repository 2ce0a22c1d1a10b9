-- wrk: POST /v1/approvals as the agent (key in AGENT_KEY).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AGENT_KEY")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action": "Terminate EC2 instance i-0abc123", "agent_id": "ops-agent", "reviewers": ["reviewer"], "context": {"instance_id": "i-0abc123", "region": "eu-west-1"}, "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}}, "risk_score": 80, "expires_in_seconds": 3600}'
