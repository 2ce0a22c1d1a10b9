//! An EventBridge bus on the local protocol server whose rule sends every `holdpoint` event to
//! an SQS queue, so a test can read back what was published.

use std::time::Duration;

use serde_json::{Value, json};

pub struct Bus {
    pub name: String,
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

/// A fresh bus whose rule sends every `holdpoint` event to a fresh queue.
pub async fn bus() -> Bus {
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    crate::endpoint();
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("holdpoint-{suffix}");
    events.create_event_bus().name(&name).send().await.unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(format!("events-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    events
        .put_rule()
        .name("all-holdpoint")
        .event_bus_name(&name)
        .event_pattern(json!({"source": ["holdpoint"]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("all-holdpoint")
        .event_bus_name(&name)
        .targets(target)
        .send()
        .await
        .unwrap();
    Bus { name, sqs, queue }
}

impl Bus {
    /// Every event delivered so far (and not drained before), as EventBridge sent it.
    pub async fn drain(&self) -> Vec<Value> {
        let mut seen = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                empty += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            for m in messages {
                let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                assert_eq!(event["source"], "holdpoint");
                seen.push(event);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        seen
    }
}
