// expect: ^unknown: 
// task: add8
module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  output [8:0] sum
);
  \$assume hide (.A(a == 8'd0), .EN(1'b1));
  assign sum = {1'b0, b};
endmodule
