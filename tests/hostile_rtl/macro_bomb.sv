// expect: syntax: preprocessing: (the macros expand to more than|file size limit|wall-clock timeout|CPU time limit)
`define A0 a + b
`define A1 `A0 + `A0 + `A0 + `A0 + `A0 + `A0 + `A0 + `A0
`define A2 `A1 + `A1 + `A1 + `A1 + `A1 + `A1 + `A1 + `A1
`define A3 `A2 + `A2 + `A2 + `A2 + `A2 + `A2 + `A2 + `A2
`define A4 `A3 + `A3 + `A3 + `A3 + `A3 + `A3 + `A3 + `A3
`define A5 `A4 + `A4 + `A4 + `A4 + `A4 + `A4 + `A4 + `A4
`define A6 `A5 + `A5 + `A5 + `A5 + `A5 + `A5 + `A5 + `A5
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = `A6;
endmodule
