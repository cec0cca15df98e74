// Sends through Sesame with the AWS SDK for JavaScript v3 (SES v2 and v1)
// and nodemailer's SES transport; prints what each returned as JSON.
// Env: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
import { SESv2Client, SendEmailCommand as V2Send } from "@aws-sdk/client-sesv2";
import * as sesv2 from "@aws-sdk/client-sesv2";
import { SESClient, SendEmailCommand as V1Send } from "@aws-sdk/client-ses";
import nodemailer from "nodemailer";

const config = { endpoint: process.env.ENDPOINT, region: "us-east-1" };
const out = {};
const v2 = new SESv2Client(config);
const r2 = await v2.send(new V2Send({
  FromEmailAddress: "js@example.com",
  Destination: { ToAddresses: ["to@example.org"] },
  Content: { Simple: { Subject: { Data: "from client-sesv2" }, Body: { Text: { Data: "js v2 body" } } } },
}));
out.v2 = r2.MessageId;
const v1 = new SESClient(config);
const r1 = await v1.send(new V1Send({
  Source: "js1@example.com",
  Destination: { ToAddresses: ["to1@example.org"] },
  Message: { Subject: { Data: "from client-ses" }, Body: { Html: { Data: "<b>js v1</b>" } } },
}));
out.v1 = r1.MessageId;
const transporter = nodemailer.createTransport({ SES: { sesClient: v2, SendEmailCommand: V2Send, aws: sesv2 } });
out.verify = await transporter.verify();
const info = await transporter.sendMail({
  from: "Nodemailer Sender <nm@example.com>",
  to: "a@example.org",
  cc: "b@example.org",
  bcc: "hidden@example.org",
  subject: "nodemailer with attachments ✓",
  text: "plain from nodemailer",
  html: "<p>html from nodemailer</p>",
  attachments: [
    { filename: "notes.txt", content: "attached text" },
    { filename: "data.bin", content: Buffer.from([0, 1, 2, 255]) },
  ],
});
out.nodemailer = { messageId: info.messageId, response: info.response };
console.log(JSON.stringify(out));
