// expect: line 2: `ifdef OK: the design did not define `OK before
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
`ifdef OK
  RefModule copy (.a(a), .b(b), .sum(sum));
`else
  assign sum = 9'd0;
`endif
endmodule
